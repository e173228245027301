"""A tiny participant for servicekit.saga's tests: notes that a saga hides, restores, purges."""
