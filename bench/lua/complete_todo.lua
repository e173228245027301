-- PATCH /todos/{id} {"completed": true}, each id of a file once, shared out between
-- wrk's threads:  wrk -s bench/lua/complete_todo.lua URL -- IDS_FILE THREADS
-- Past the end of the file it starts again (those PATCHes change nothing; the
-- benchmark says so when it happens).
local threads = 0

function setup(thread)
   thread:set("first", threads + 1)
   threads = threads + 1
end

function init(args)
   ids = {}
   for line in io.lines(args[1]) do
      ids[#ids + 1] = line
   end
   step = tonumber(args[2])
   position = first
   wrk.method = "PATCH"
   wrk.headers["Content-Type"] = "application/json"
   wrk.body = '{"completed": true}'
end

function request()
   local id = ids[(position - 1) % #ids + 1]
   position = position + step
   return wrk.format(nil, "/todos/" .. id)
end
