"""Views that one topic's page needs beyond the common ones, one module per topic.

A new topic needs none of these: the views of `evidence.views.topic.RunViews` and the
tables and figures of `evidence.views` cover a page. A module here holds what would
otherwise be more than a line or two of computing or formatting in a page.
"""
