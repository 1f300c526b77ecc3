"""A private FTP/FTPS server for pitcher-transfer's tests (pyftpdlib), on 127.0.0.1.

usage: ftpd.py ROOT PORT USER PASSWORD MODE [CERTFILE] [--no-mlst]
MODE: plain | explicit (AUTH TLS) | implicit (TLS from the first byte).
Prints "ready" on stdout once listening; appends a line to ../connections.log per connection.
"""
import os
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def main():
    root, port, user, password, mode = sys.argv[1:6]
    rest = sys.argv[6:]
    no_mlst = "--no-mlst" in rest
    rest = [a for a in rest if a != "--no-mlst"]
    auth = DummyAuthorizer()
    auth.add_user(user, password, root, perm="elradfmwMT")
    if mode == "plain":
        base = FTPHandler
    else:
        from pyftpdlib.handlers import TLS_FTPHandler

        base = TLS_FTPHandler

    log = os.path.join(os.path.dirname(os.path.abspath(root)), "connections.log")

    class Handler(base):
        def on_connect(self):
            with open(log, "a") as f:
                f.write("connect\n")

    if mode != "plain":
        Handler.certfile = rest[0]
        Handler.tls_control_required = True
        Handler.tls_data_required = True
    if mode == "implicit":

        def handle(self):
            self.secure_connection(self.ssl_context)

        def handle_ssl_established(self):
            base.handle(self)

        Handler.handle = handle
        Handler.handle_ssl_established = handle_ssl_established
    if no_mlst:
        Handler.proto_cmds = {
            k: v for k, v in base.proto_cmds.items() if k not in ("MLSD", "MLST")
        }
    Handler.authorizer = auth
    Handler.passive_ports = None
    Handler.permit_foreign_addresses = False
    server = FTPServer(("127.0.0.1", int(port)), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
