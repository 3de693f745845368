# cairn_module(NAME DIR DEPS...) — a static library from every .c in DIR
# (an INTERFACE library while DIR has none yet), so modules grow without
# editing CMake files and helpers never fight over one source list.
function(cairn_module name dir)
  set_property(GLOBAL APPEND PROPERTY CAIRN_MODULES ${name})
  file(GLOB _src CONFIGURE_DEPENDS ${dir}/*.c)
  if(_src)
    add_library(${name} STATIC ${_src})
    target_include_directories(${name} PUBLIC ${dir})
    target_link_libraries(${name} PUBLIC ${ARGN})
  else()
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${dir})
    target_link_libraries(${name} INTERFACE ${ARGN})
  endif()
endfunction()

# The module map (docs/architecture.md "Modules and who may use whom"): each
# module's direct cairn_* dependencies must be among those listed here, and
# every cairn_* module must be listed. A new dependency is a design change:
# edit this table and the map in docs/architecture.md together.
set(CAIRN_MODULE_DEPS
  "cairn_common:"
  "cairn_ws:cairn_common"
  "cairn_auth:cairn_common"
  "cairn_proto:cairn_common"
  "cairn_log:cairn_common"
  "cairn_repl:cairn_common,cairn_log"
  "cairn_kafka:cairn_common,cairn_log,cairn_repl"
  "cairn_insp:cairn_common,cairn_log,cairn_proto"
  "cairn_hunt:cairn_common,cairn_proto,cairn_log"
  "cairn_gateway:cairn_common,cairn_ws,cairn_auth,cairn_proto,cairn_log"
  "cairn_sim:cairn_common,cairn_ws,cairn_auth,cairn_hunt"
  "cairn_dash:cairn_common,cairn_hunt")

# cairn_check_modules() — run after every module is defined; a configure
# error names the module and the dependency the map does not allow.
function(cairn_check_modules)
  set(_known "")
  foreach(_e ${CAIRN_MODULE_DEPS})
    string(REPLACE ":" ";" _kv "${_e}")
    list(GET _kv 0 _m)
    list(APPEND _known ${_m})
  endforeach()
  foreach(_e ${CAIRN_MODULE_DEPS})
    string(FIND "${_e}" ":" _c)
    string(SUBSTRING "${_e}" 0 ${_c} _m)
    math(EXPR _c "${_c} + 1")
    string(SUBSTRING "${_e}" ${_c} -1 _allowed)
    string(REPLACE "," ";" _allowed "${_allowed}")
    if(NOT TARGET ${_m})
      message(FATAL_ERROR "module map: ${_m} is listed but not defined")
    endif()
    get_target_property(_type ${_m} TYPE)
    if(_type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(_deps ${_m} INTERFACE_LINK_LIBRARIES)
    else()
      get_target_property(_deps ${_m} LINK_LIBRARIES)
    endif()
    foreach(_d ${_deps})
      if(_d MATCHES "^cairn_" AND NOT _d IN_LIST _allowed)
        message(FATAL_ERROR "module map: ${_m} may not depend on ${_d} "
                            "(allowed: ${_allowed}); see cmake/cairn.cmake")
      endif()
    endforeach()
  endforeach()
  get_property(_defined GLOBAL PROPERTY CAIRN_MODULES)
  foreach(_m ${_defined})
    if(NOT _m IN_LIST _known AND NOT _m STREQUAL "cairn_testsupport")
      message(FATAL_ERROR "module map: ${_m} is not in CAIRN_MODULE_DEPS (cmake/cairn.cmake)")
    endif()
  endforeach()
endfunction()
