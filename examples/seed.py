from stellate.applications import Stellate
from stellate.responses import JSONResponse
from stellate.routing import Route
import uvicorn

async def homepage(request):
    return JSONResponse({'hello': 'world'})

routes = [Route('/', homepage)]
app = Stellate(debug=True, routes=routes)

if __name__ == "__main__":
    uvicorn.run(app, host='127.0.0.1', port=8000)
