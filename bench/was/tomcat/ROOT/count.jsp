<%-- nodecat bench:was, the counter page: read an integer from the session, write it back +1, reply with a few lines.
     The same page as bench/was/counter-app.js's GET /count. --%><%@ page contentType="text/plain; charset=UTF-8" trimDirectiveWhitespaces="true" %><%
  Integer before = (Integer) session.getAttribute("count");
  int count = (before == null ? 0 : before) + 1;
  session.setAttribute("count", count);
%>counter
session: <%= session.getId() %>
count: <%= count %>
