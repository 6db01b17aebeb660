-- lib.lua - helpers for the slowspam-milter miltertest scripts.
-- miltertest exits 1 without a word on a Lua error: run() prints it.

function check(cond, msg)
	if not cond then error(msg, 2) end
end

-- Open a connection to the milter named by $MILTER_<name> and say hello:
-- from ip, named host (default "client.example") with the connect macros
-- in the list macros (name, value, name, value...) if given.
function open(name, ip, helo, host, macros)
	local sock = os.getenv("MILTER_" .. name)
	check(sock ~= nil, "no $MILTER_" .. name)
	local conn = mt.connect(sock, 20, 0.25)
	check(conn ~= nil, "cannot connect to " .. sock)
	if macros ~= nil then
		check(mt.macro(conn, SMFIC_CONNECT,
		    (table.unpack or unpack)(macros)) == nil, "macro")
	end
	check(mt.conninfo(conn, host or "client.example", ip) == nil,
	    "conninfo")
	check(mt.getreply(conn) == SMFIR_CONTINUE, "connect not continued")
	check(mt.helo(conn, helo) == nil, "helo")
	return conn
end

-- MAIL, RCPT, one header, end of message; returns the MAIL reply.
function message(conn, from, rcpt, auth)
	if auth ~= nil then
		mt.macro(conn, SMFIC_MAIL, "{auth_type}", auth)
	end
	check(mt.mailfrom(conn, from) == nil, "mailfrom")
	local r = mt.getreply(conn)
	if r ~= SMFIR_CONTINUE then return r end
	check(mt.rcptto(conn, rcpt) == nil, "rcptto")
	check(mt.header(conn, "Subject", "test") == nil, "header")
	check(mt.eom(conn) == nil, "eom")
	return r
end

function run(body)
	local ok, err = pcall(body)
	if not ok then
		print("FAILED: " .. tostring(err))
		os.exit(1)
	end
end
