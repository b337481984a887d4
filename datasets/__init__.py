"""The built-in datasets. Each module is a pluggy plugin, registered like a third party's."""
