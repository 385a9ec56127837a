"""People's accounts: roles and permissions, passwords, sessions and logins, for the console and the CLI.

`roles`, `passwords`, `sessions` and `throttle` are pure; `users` (adding and changing accounts)
and `login` (logins, sessions, logouts, audited views and exports) work on storage.
"""
