"""Decrypts an age file with a passphrase through a pseudo-terminal, as a person would:
`age -d` reads passphrases only from a terminal. Arguments: FILE OUT PASSPHRASE."""
import os
import pty
import sys

file, out, passphrase = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.execvp("age", ["age", "-d", "-o", out, file])
seen = b""
while b"passphrase" not in seen.lower():
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
os.write(fd, passphrase.encode() + b"\r")
while True:
    try:
        if not os.read(fd, 1024):
            break
    except OSError:
        break
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
