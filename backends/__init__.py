"""The built-in backends. Each module is a pluggy plugin, registered like a third party's."""
