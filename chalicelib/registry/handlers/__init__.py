"""One module per resource; functions named after the spec's operations.

Every handler takes the services (`chalicelib.services.Services`), the
`Request` and the path parameters, and returns an `Response` or raises a
domain error (mapped to the wire in `chalicelib.oci.errcodes`).
"""
