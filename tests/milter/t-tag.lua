-- action = tag: a client the tar pit saw first gets X-Slowspam, and the
-- Authentication-Results header goes on top.
dofile(os.getenv("MT_LIB"))
run(function()
	local conn = open("TAG", "192.0.2.10", "mail.client.example")
	check(message(conn, "<a@pass.test>", "<b@primary.test>") ==
	    SMFIR_CONTINUE, "MAIL not continued")
	check(mt.eom_check(conn, MT_HDRADD, "X-Slowspam"), "no X-Slowspam")
	check(mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results"),
	    "no Authentication-Results")
	check(not mt.eom_check(conn, MT_QUARANTINE), "quarantined")
	mt.disconnect(conn)
end)
