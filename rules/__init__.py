"""Rule definitions (one YAML file per rule), shipped inside the iamlint wheel."""
