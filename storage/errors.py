"""Storage failures. The store never speaks CIM; providers translate these."""


class StorageError(Exception):
    """Base of every error the store raises."""


class NotFound(StorageError):
    """The row a caller asked for does not exist."""


class AlreadyExists(StorageError):
    """A row with the same identity exists already."""


class StaleWrite(StorageError):
    """Another writer changed the row first (version counter mismatch)."""
