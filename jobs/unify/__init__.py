"""Bronze -> silver: conformed customers (with identity resolution), accounts and transactions."""
