<%-- nodecat bench:was, the read-only page: the session's counter, nothing written (and no session made when there is none).
     The same page as bench/was/counter-app.js's GET /read. --%><%@ page contentType="text/plain; charset=UTF-8" session="false" trimDirectiveWhitespaces="true" %><%
  jakarta.servlet.http.HttpSession s = request.getSession(false);
  Object count = s == null ? null : s.getAttribute("count");
%>counter
session: <%= s == null ? "none" : s.getId() %>
count: <%= count == null ? "none" : count %>
