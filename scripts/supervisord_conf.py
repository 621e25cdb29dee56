#!/usr/bin/env python3
"""Write supervisord's configuration for the Procfile's processes (stdout).

The Procfile is the one list of processes; this is the one place that says how supervisord runs
them: each restarted when it dies (the others keep serving), its whole process group stopped
and killed together, its output in ``var/log/<name>.log``. ``deploy/supervisord.conf`` is this
script's output with the defaults (``make up`` regenerates it when the Procfile changes, and
``tests/core/test_stack_crash.py`` checks the shipped file is current).

    scripts/supervisord_conf.py [--procfile Procfile] [--root DIR] [--var DIR]

``--root`` (the project, where the processes run) and ``--var`` (logs, pid file, control
socket) default to paths beside the configuration file, which supervisord expands
(``%(here)s``), so the shipped file works wherever the checkout lives.
"""

import argparse
import re
import shlex
import sys
from pathlib import Path

HERE = "%(here)s"
PROCESS_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")

# A killed process is started again at once; one that dies within STARTSECS of starting counts
# as a failed start, retried with a growing pause (1 s, 2 s, ...) STARTRETRIES times before
# supervisord gives up on it (FATAL), so a broken release does not spin.
STARTSECS = 5
STARTRETRIES = 10
# A stop is graceful (TERM: gunicorn finishes its requests, Celery its running tasks) for this
# long before the group is killed; a killed task is redelivered (acks_late), only later.
STOPWAITSECS = 60
LOG_MAXBYTES = "50MB"
LOG_BACKUPS = 5


def procfile_processes(text: str) -> dict[str, str]:
    """``{name: command}`` from a Procfile's ``name: command`` lines (blank lines and ``#``
    comments skipped); a malformed line or a repeated name is an error, not a skipped process."""
    processes: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, separator, command = line.partition(":")
        name, command = name.strip(), command.strip()
        if not separator or not PROCESS_NAME.fullmatch(name) or not command:
            raise ValueError(f"Procfile line {number} is not `name: command`: {line!r}")
        if name in processes:
            raise ValueError(f"Procfile line {number} repeats the process {name!r}")
        processes[name] = command
    return processes


def _supervisor_value(value: str) -> str:
    # supervisord expands %(...)s in its values: a literal % (Celery's %h) is written %%.
    return value.replace("%", "%%")


def supervisord_conf(processes: dict[str, str], *, root: str, var: str) -> str:
    """The configuration text: supervisord itself, its control socket, one program each."""
    socket = f"{var}/run/supervisor.sock"
    sections = [
        "; Generated from the Procfile by scripts/supervisord_conf.py: edit those, not this.\n"
        "; Start: supervisord -n -c deploy/supervisord.conf (make up)\n"
        "; Status: supervisorctl -c deploy/supervisord.conf status",
        "[supervisord]\n"
        f"logfile={var}/log/supervisord.log\n"
        f"pidfile={var}/run/supervisord.pid\n"
        f"childlogdir={var}/log\n"
        # Each program finds gunicorn and celery in the project's virtualenv first.
        f'environment=PATH="{root}/.venv/bin:%(ENV_PATH)s"',
        f"[unix_http_server]\nfile={socket}\nchmod=0700",
        f"[supervisorctl]\nserverurl=unix://{socket}",
        "[rpcinterface:supervisor]\n"
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
    ]
    for name, command in processes.items():
        # Through a shell, as a Procfile is run: ${VAR:-default} expands; exec leaves the
        # process itself as the one supervisord watches and signals.
        shell_command = shlex.join(["/bin/sh", "-c", f"exec {command}"])
        sections.append(
            f"[program:{name}]\n"
            f"command={_supervisor_value(shell_command)}\n"
            f"directory={root}\n"
            "autostart=true\n"
            "autorestart=true\n"
            f"startsecs={STARTSECS}\n"
            f"startretries={STARTRETRIES}\n"
            "stopsignal=TERM\n"
            f"stopwaitsecs={STOPWAITSECS}\n"
            "stopasgroup=true\n"
            "killasgroup=true\n"
            "redirect_stderr=true\n"
            f"stdout_logfile={var}/log/%(program_name)s.log\n"
            f"stdout_logfile_maxbytes={LOG_MAXBYTES}\n"
            f"stdout_logfile_backups={LOG_BACKUPS}"
        )
    return "\n\n".join(sections) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procfile", type=Path, default=Path(__file__).parent.parent / "Procfile")
    parser.add_argument("--root", default=f"{HERE}/..", help="where the processes run")
    parser.add_argument("--var", default=f"{HERE}/../var", help="logs, pid file and socket")
    args = parser.parse_args(argv)
    processes = procfile_processes(args.procfile.read_text())
    sys.stdout.write(supervisord_conf(processes, root=args.root, var=args.var))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
