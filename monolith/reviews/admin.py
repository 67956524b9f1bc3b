from django.contrib import admin

from reviews.models import Review


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["id", "product_id", "customer", "rating", "title", "created_at"]
    list_filter = ["rating"]
    search_fields = ["title", "body"]
    raw_id_fields = ["customer"]
