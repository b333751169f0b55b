"""Maintenance tools shipped with the package (e.g. regenerating the TF.js supported-op list)."""
