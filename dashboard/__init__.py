"""The Dash dashboard: race control on a map of the course that needs no internet."""
