"""Axis meaning, findings (warnings with verified fixes), explained failures, pasted-error explanations, error lab."""
