"""`iamlint narrow`: observed calls in, least-privilege policies out.

The package follows the lower branch of the house pipeline:
- `evidence` reads call sources (CloudTrail as S3 delivers it, bare arrays, JSON lines,
  CloudTrail Lake and Event history exports, iamlint's own evidence files) into `calls.Call`
  values, streamed (`jsonstream`, `lake`);
- `mapping` turns each call into the IAM actions it needed, with the resource ARNs (`arns`) the
  evidence shows, using the irregular API-to-IAM table (`apitable`) and the catalogue.
Nothing here talks to AWS, and importing the package reads no file.
"""
