"""Read-side queries shared by pages and exports."""
