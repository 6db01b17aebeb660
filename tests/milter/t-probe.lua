-- A connection that closes before any command (a port probe) is harmless.
dofile(os.getenv("MT_LIB"))
run(function()
	local sock = os.getenv("MILTER_TAG")
	for i = 1, 5 do
		local conn = mt.connect(sock, 20, 0.25)
		check(conn ~= nil, "connect")
		mt.disconnect(conn)
	end
	local conn = open("TAG", "192.0.2.20", "mail.client.example")
	check(message(conn, "<a@pass.test>", "<b@primary.test>") ==
	    SMFIR_CONTINUE, "milter gone after probes")
	mt.disconnect(conn)
end)
