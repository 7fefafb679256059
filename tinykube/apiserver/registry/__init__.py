"""The API server's registries: generic CRUD over storage plus per-resource rules."""
