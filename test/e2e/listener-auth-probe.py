import socket, struct, sys
port = int(sys.argv[1])
def startup():
    body = struct.pack("!i", 196608) + b"user\0pipeline\0database\0demo-pg\0\0"
    return struct.pack("!i", len(body) + 4) + body
def msg(t, body): return t + struct.pack("!i", len(body) + 4) + body
def sasl_initial(mech, data): return msg(b"p", mech + b"\0" + struct.pack("!i", len(data)) + data)
def read_all(s):
    s.settimeout(10); out = b""
    try:
        while True:
            c = s.recv(65536)
            if not c: break
            out += c
    except Exception: pass
    return out
def code_of(out):
    i = out.find(b"E")
    while i >= 0:
        j = out.find(b"\0C", i)
        if j >= 0: return out[j+2:j+7].decode()
        i = out.find(b"E", i+1)
    return "none"
cases = {
  "cleartext": lambda: msg(b"p", b"guess\0"),
  "plus": lambda: sasl_initial(b"SCRAM-SHA-256-PLUS", b"p=tls-server-end-point,,n=,r=abc"),
  "cbind": lambda: sasl_initial(b"SCRAM-SHA-256", b"p=tls-server-end-point,,n=,r=abc"),
  "huge": lambda: b"p" + struct.pack("!i", 0x7fffffff) + b"x" * 100,
  "badutf8": lambda: sasl_initial(b"SCRAM-SHA-256", b"n,,n=,r=\xff\xfe"),
  "longnonce": lambda: sasl_initial(b"SCRAM-SHA-256", b"n,,n=,r=" + b"a" * 8000),
  "negative": lambda: msg(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", -5)),
  "wrongtype": lambda: msg(b"Q", b"select 1\0"),
}
for name, make in cases.items():
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(startup())
    s.settimeout(10)
    first = s.recv(65536)
    s.sendall(make())
    out = first + read_all(s)
    s.close()
    print(name, code_of(out))
# wrong proof and a replayed final (nonce of an earlier exchange)
import base64, os
def exchange(final_nonce=None):
    s = socket.create_connection(("127.0.0.1", port)); s.sendall(startup()); s.settimeout(10); s.recv(65536)
    cn = base64.b64encode(os.urandom(18)).decode()
    s.sendall(sasl_initial(b"SCRAM-SHA-256", ("n,,n=,r=" + cn).encode()))
    r = s.recv(65536)
    sf = r[9:].decode()
    nonce = sf.split(",")[0][2:]
    use = final_nonce or nonce
    s.sendall(msg(b"p", ("c=biws,r=" + use + ",p=" + base64.b64encode(os.urandom(32)).decode()).encode()))
    out = read_all(s); s.close()
    return nonce, code_of(out)
n1, c1 = exchange(); print("wrongproof", c1)
_, c2 = exchange(final_nonce=n1); print("replayednonce", c2)
