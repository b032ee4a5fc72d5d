"""Knowledge tables the IAM catalogue does not hold, each entry with its source."""
