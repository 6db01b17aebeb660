-- Headers a sender forged: an Authentication-Results with our authserv-id
-- (after one of another server's) and an X-Slowspam are removed.
dofile(os.getenv("MT_LIB"))
run(function()
	local conn = open("TAG", "192.0.2.20", "mail.client.example")
	check(mt.mailfrom(conn, "<a@pass.test>") == nil, "mailfrom")
	check(mt.rcptto(conn, "<b@primary.test>") == nil, "rcptto")
	check(mt.header(conn, "Authentication-Results",
	    "other.example; spf=pass smtp.mailfrom=a@pass.test") == nil, "h1")
	check(mt.header(conn, "Authentication-Results",
	    "primary.test; spf=pass smtp.mailfrom=a@pass.test") == nil, "h2")
	check(mt.header(conn, "X-Slowspam", "verdict=none") == nil, "h3")
	check(mt.eom(conn) == nil, "eom")
	check(mt.eom_check(conn, MT_HDRCHANGE, "Authentication-Results"),
	    "forged Authentication-Results kept")
	check(mt.eom_check(conn, MT_HDRCHANGE, "X-Slowspam"),
	    "forged X-Slowspam kept")
	check(mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
	    "primary.test; spf=pass smtp.mailfrom=a@pass.test"), "no A-R")
	mt.disconnect(conn)
end)
