"""Building the Llama Wrangler app bundle: ``plan`` (what goes in, per OS), ``icons`` (PNG/ICO/ICNS from
the SVG), ``linux`` (the .desktop entry, AppDir and AppImage), the PyInstaller spec and its entry script.
Driven by ``scripts/package.py``."""
