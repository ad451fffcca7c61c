"""Sign-in: sessions, passkeys, invites, devices and the access guards."""
