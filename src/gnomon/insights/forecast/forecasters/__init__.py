"""The built-in forecasting models; the selection builds them by name through a registry."""
