"""Application services shared by the window and the command line.

They sit between ``ui/`` (widgets only) and the Qt-free core (``library/``, ``sources/``, ``convert/``,
``runtime/``, ``server/``): what the user can do to models, hub work, the stable endpoint, the live settings
and the message bus. They use QtCore where an event loop or signals earn their place, never QtWidgets.
"""
