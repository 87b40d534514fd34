"""Ready-made configurations, one module per site, each defining ``config``.

The same module names and settings as Parsl's ``parsl.configs``:
``from parsl.configs.local_threads import config`` or
``from parsl.configs.htex_local import config``. Site configurations hold placeholders
(``YOUR_ACCOUNT`` and the like) to replace before use. A module whose executor or provider
lives in a plugin distribution that is not installed raises the registry's ImportError
naming the distribution to install; one whose component this project does not provide
raises an ImportError saying so.
"""
