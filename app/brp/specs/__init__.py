"""RvIG's OpenAPI specifications of the three BRP APIs (data only; see ATTRIBUTION.md)."""
