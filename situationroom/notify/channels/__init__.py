"""Channel kinds, one module each (inapp, webhook, email, sms), found through `registry`."""
