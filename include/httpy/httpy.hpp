#pragma once

/// Every public declaration of httpy in one include. <httpy/beast.hpp>, which brings in
/// Boost.Beast's HTTP message types, is left out: include it where it is used.

#include "httpy/app.hpp"
#include "httpy/async_handler.hpp"
#include "httpy/body_file.hpp"
#include "httpy/body_stream.hpp"
#include "httpy/call_error.hpp"
#include "httpy/call_result.hpp"
#include "httpy/config_error.hpp"
#include "httpy/executor.hpp"
#include "httpy/fields.hpp"
#include "httpy/header_name.hpp"
#include "httpy/interpreter.hpp"
#include "httpy/io_pool.hpp"
#include "httpy/method.hpp"
#include "httpy/python_function.hpp"
#include "httpy/request.hpp"
#include "httpy/response.hpp"
#include "httpy/route_handler.hpp"
#include "httpy/route_table.hpp"
#include "httpy/router.hpp"
#include "httpy/server.hpp"
#include "httpy/server_options.hpp"
#include "httpy/status.hpp"
#include "httpy/target.hpp"
#include "httpy/version.hpp"
