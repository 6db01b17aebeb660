-- action = quarantine: tagged and quarantined.
dofile(os.getenv("MT_LIB"))
run(function()
	local conn = open("QUARANTINE", "192.0.2.10", "mail.client.example")
	check(message(conn, "<a@pass.test>", "<b@primary.test>") ==
	    SMFIR_CONTINUE, "MAIL not continued")
	check(mt.eom_check(conn, MT_QUARANTINE), "not quarantined")
	check(mt.eom_check(conn, MT_HDRADD, "X-Slowspam"), "no X-Slowspam")
	mt.disconnect(conn)
end)
