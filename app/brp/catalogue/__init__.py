"""RvIG's `fields-*.csv` lists (data only; see ATTRIBUTION.md). A package so the CSVs ship in a wheel."""
