"""Data tools: sample data in the real layouts, converters from official releases."""
