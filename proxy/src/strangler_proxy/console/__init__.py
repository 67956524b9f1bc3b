"""The operator console: pages on the admin listener to see and steer a migration in a browser.

A layer above the control plane (it calls the admin API's endpoints in-process and never the route store
directly), below the CLI, which mounts it when it runs `strangler proxy`. `attach_console(admin)` mounts it at
/console; app.py has the routes and the security rules, views.py what each page shows, traffic.py the live
numbers, handover.py a cutover's steps, sessions.py the logins, static/ the HTML, CSS and JavaScript.
"""

from strangler_proxy.console.app import Console, attach_console

__all__ = ["Console", "attach_console"]
