-- action = divert: recipients replaced by divert_to, originals kept.
dofile(os.getenv("MT_LIB"))
run(function()
	local conn = open("DIVERT", "192.0.2.10", "mail.client.example")
	check(message(conn, "<a@pass.test>", "<b@primary.test>") ==
	    SMFIR_CONTINUE, "MAIL not continued")
	check(mt.eom_check(conn, MT_RCPTDELETE, "<b@primary.test>"),
	    "recipient not deleted")
	check(mt.eom_check(conn, MT_RCPTADD, "trap@primary.test"),
	    "divert_to not added")
	check(mt.eom_check(conn, MT_HDRADD, "X-Slowspam-Original-Recipients",
	    "<b@primary.test>"), "no X-Slowspam-Original-Recipients")
	mt.disconnect(conn)
end)
