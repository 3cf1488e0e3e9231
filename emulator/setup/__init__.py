"""Set-up: scenario files and seeding the store from them."""
