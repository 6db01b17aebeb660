-- X-Slowspam-Original-Recipients is ours (action = divert adds it): every
-- copy that arrives with a message, in any case of the name, is removed,
-- from any message; a diverted one then gets ours only.
dofile(os.getenv("MT_LIB"))

local H = "X-Slowspam-Original-Recipients"

-- A message from ip with two forged copies; returns the connection.
local function forged(name, ip)
	local conn = open(name, ip, "mail.client.example")
	check(mt.mailfrom(conn, "<a@pass.test>") == nil, "mailfrom")
	check(mt.rcptto(conn, "<b@primary.test>") == nil, "rcptto")
	check(mt.header(conn, "x-slowspam-original-recipients",
	    "<boss@primary.test>") == nil, "h1")
	check(mt.header(conn, "Subject", "test") == nil, "h2")
	check(mt.header(conn, H, "<ceo@primary.test>") == nil, "h3")
	check(mt.eom(conn) == nil, "eom")
	return conn
end

run(function()
	local conn = forged("TAG", "192.0.2.20")
	check(mt.eom_check(conn, MT_HDRCHANGE, H), "forged " .. H .. " kept")
	check(not mt.eom_check(conn, MT_HDRADD, H), H .. " added")
	mt.disconnect(conn)
	conn = forged("DIVERT", "192.0.2.10")
	check(mt.eom_check(conn, MT_HDRCHANGE, H), "forged " .. H ..
	    " kept when diverting")
	check(mt.eom_check(conn, MT_HDRADD, H, "<b@primary.test>"),
	    "no " .. H .. " of ours")
	check(mt.eom_check(conn, MT_RCPTADD, "trap@primary.test"),
	    "divert_to not added")
	mt.disconnect(conn)
end)
