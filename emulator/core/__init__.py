"""The protocol-neutral core: class model, validation, dispatch to providers, results."""
