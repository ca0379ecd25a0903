"""zoo's built-in lesson plugins: one package per lesson, each its own ``zoo`` entry point."""
