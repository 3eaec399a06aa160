"""The dashboard's pages: static HTML, CSS and JavaScript modules served by ``http/dashboard.py`` (no build step)."""
