-- wrk script: POST one fixed JSON body (read from the file named by $WRK_BODY).
-- No request() or response() function is defined, so wrk keeps its precomputed
-- request and never enters Lua per request; non-2xx answers are counted by wrk
-- itself ("Non-2xx or 3xx responses"), which bench.py reads as errors.
local path = assert(os.getenv("WRK_BODY"), "set WRK_BODY to the file holding the body")
local file = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
