"""Data shipped inside the package: the snapshot of AWS managed policy documents."""
