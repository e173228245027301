-- POST /todos with a JSON body (wrk -s bench/lua/post_todo.lua URL/todos).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title": "bench write", "description": "written by bench/writes.py", "priority": "high"}'
