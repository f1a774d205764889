"""The promotion pages' view models: plain classes and functions that the views build from the selectors'
results (the gate report's checks, the slice regression page, a policy's rules in words), so that templates
and their tags only format what is already shaped."""
