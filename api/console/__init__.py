"""The provider's console: its fleet as the inventory has it (:mod:`~api.console.fleet`) and the
messages the API relayed for it (:mod:`~api.console.relayed`). Credentials and scopes are in
:mod:`api.credentials`; webhook alerts in :mod:`api.alerts`."""
