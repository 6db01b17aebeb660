-- action = tag, action_bot = reject: a bot the tar pit caught (pregreet)
-- is refused at MAIL FROM; a plain backup-first client is only tagged.
dofile(os.getenv("MT_LIB"))
run(function()
	local conn = open("REJECTBOT", "192.0.2.11", "bot.client.example")
	check(message(conn, "<a@pass.test>", "<b@primary.test>") ==
	    SMFIR_REPLYCODE, "bot MAIL not refused")
	mt.disconnect(conn)
	conn = open("REJECTBOT", "192.0.2.10", "mail.client.example")
	check(message(conn, "<a@pass.test>", "<b@primary.test>") ==
	    SMFIR_CONTINUE, "plain MAIL refused")
	check(mt.eom_check(conn, MT_HDRADD, "X-Slowspam"), "no X-Slowspam")
	mt.disconnect(conn)
end)
