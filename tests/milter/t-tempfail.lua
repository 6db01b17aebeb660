-- action = tempfail: 451 at MAIL FROM; exempt when authenticated.
dofile(os.getenv("MT_LIB"))
run(function()
	local conn = open("TEMPFAIL", "192.0.2.10", "mail.client.example")
	check(message(conn, "<a@pass.test>", "<b@primary.test>") ==
	    SMFIR_REPLYCODE, "MAIL not answered with 451")
	mt.disconnect(conn)
	conn = open("TEMPFAIL", "192.0.2.10", "mail.client.example")
	check(message(conn, "<a@pass.test>", "<b@primary.test>", "PLAIN") ==
	    SMFIR_CONTINUE, "authenticated MAIL not continued")
	check(not mt.eom_check(conn, MT_HDRADD, "X-Slowspam"),
	    "authenticated mail tagged")
	mt.disconnect(conn)
end)
